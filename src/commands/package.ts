// Stub: replaced by its owner. Kept so src/cli.ts type-checks while the command is written.
import { defineCommand } from "../cli/scaffold.js";
import { UsageError } from "../errors.js";

export default defineCommand({
  name: "package create",
  describe: "(not implemented yet)",
  positionals: [],
  options: {},
  async run() {
    throw new UsageError("not implemented yet");
  },
});
