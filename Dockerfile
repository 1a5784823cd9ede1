# A FEDn client with only Node: `fedn-tfjs client start` speaks FEDn's HTTP API and gRPC protocol
# itself, so the image holds Node.js and fedn-tfjs, and no Python. The compute package comes from
# the controller (or mount one and pass --package-path). Build from the repository root:
#   docker build -t fedn-tfjs-client .
# Run (see README, "Join a FEDn network with only Node"): mount this client's data and point
# FEDN_DATA_PATH at it.
#   docker run -v $PWD/data/clients/1:/var/data -e FEDN_DATA_PATH=/var/data/mnist.npz \
#     fedn-tfjs-client --api-url <host> --token <client token> --name client1
FROM node:20.18-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# No install scripts: the optional native backend (tfjs-node) downloads libtensorflow in one, and
# the client does not need it (packages bundle their own backend).
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npx tsc -p tsconfig.build.json && npm prune --omit=dev --omit=optional --no-audit --no-fund

FROM node:20.18-bookworm-slim
# bash: FEDn runs every entry point as `bash -c "<command> <args>"` (Debian's slim image has it).
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
# The client unpacks the package into a private temporary folder and works from here.
WORKDIR /work
USER node
ENTRYPOINT ["node", "/app/dist/bin/cli.js", "client", "start"]
