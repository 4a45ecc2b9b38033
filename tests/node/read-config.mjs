// Reads a client config file the way its client would and prints it as
// JSON on stdout, or exits 1 naming the parse errors (never the content).
// Usage: node read-config.mjs jsonc|json FILE
import { readFileSync } from "node:fs";
import { parse, printParseErrorCode } from "jsonc-parser";

const [kind, file] = process.argv.slice(2);
const text = readFileSync(file, "utf8");
if (kind === "json") {
  process.stdout.write(JSON.stringify(JSON.parse(text)));
} else if (kind === "jsonc") {
  // VS Code reads mcp.json with comments and trailing commas allowed.
  const errors = [];
  const value = parse(text, errors, { allowTrailingComma: true, disallowComments: false });
  if (errors.length > 0) {
    const codes = errors.map((e) => `${printParseErrorCode(e.error)} at ${e.offset}`);
    process.stderr.write(`JSONC parse errors: ${codes.join(", ")}\n`);
    process.exit(1);
  }
  process.stdout.write(JSON.stringify(value));
} else {
  process.stderr.write(`unknown kind ${kind}\n`);
  process.exit(2);
}
