# A FEDn client image for the fedn-tfjs MNIST compute package. FEDn's client is Python
# (`pip install fedn`); the package itself needs only Node.js >= 20, copied in from the official
# image (same Debian release, so the same glibc). Build after `npm run package`:
#   docker build -t fedn-tfjs-client .
# Run (see README): mount this client's data and point FEDN_DATA_PATH at it.
#   docker run -v $PWD/data/clients/1:/var/data -e FEDN_DATA_PATH=/var/data/mnist.npz \
#     fedn-tfjs-client --api-url <host> --token <client token> --name client1
FROM node:20.18-bookworm-slim AS node

FROM python:3.12-slim-bookworm
ARG FEDN_VERSION=0.33.0
COPY --from=node /usr/local/bin/node /usr/local/bin/node
RUN pip install --no-cache-dir "fedn==${FEDN_VERSION}" && node --version

WORKDIR /app
# The unpacked package at ./client/fedn.yaml is what `fedn client start --local-package` runs; with
# a package uploaded to the server, the client downloads and unpacks that one to ./package instead.
COPY package.tgz /tmp/package.tgz
RUN tar -xzf /tmp/package.tgz -C /app && rm /tmp/package.tgz
ENV FEDN_PACKAGE_EXTRACT_DIR=package

ENTRYPOINT ["fedn", "client", "start"]
