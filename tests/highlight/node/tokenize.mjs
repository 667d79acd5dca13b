// Tokenize files with vscode-textmate + vscode-oniguruma (the engine VS Code itself uses).
//
//   node tokenize.mjs GRAMMAR.json FILE...
//
// Prints one JSON object: {"FILE": [[{"start": 0, "end": 5, "scopes": ["source.tbs", ...]}, ...], ...]},
// one list of tokens per line (lines split on \n, a trailing \r dropped), offsets in UTF-16 code
// units within the line (the same as Python's for the ASCII and BMP text of .tbs files).
import fs from "node:fs";
import { createRequire } from "node:module";
import oniguruma from "vscode-oniguruma";
import textmate from "vscode-textmate";

const require = createRequire(import.meta.url);

async function loadGrammar(grammarPath) {
  const wasm = fs.readFileSync(require.resolve("vscode-oniguruma/release/onig.wasm"));
  await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
  const onigLib = Promise.resolve({
    createOnigScanner: (patterns) => new oniguruma.OnigScanner(patterns),
    createOnigString: (text) => new oniguruma.OnigString(text),
  });
  const raw = textmate.parseRawGrammar(fs.readFileSync(grammarPath, "utf8"), grammarPath);
  const registry = new textmate.Registry({
    onigLib,
    loadGrammar: async (scopeName) => (scopeName === raw.scopeName ? raw : null),
  });
  return registry.loadGrammar(raw.scopeName);
}

function tokenizeText(grammar, text) {
  let stack = textmate.INITIAL;
  return text.split("\n").map((line) => {
    const clean = line.endsWith("\r") ? line.slice(0, -1) : line;
    const result = grammar.tokenizeLine(clean, stack);
    stack = result.ruleStack;
    return result.tokens.map((t) => ({ start: t.startIndex, end: Math.min(t.endIndex, clean.length), scopes: t.scopes }));
  });
}

const [grammarPath, ...files] = process.argv.slice(2);
if (!grammarPath) {
  console.error("usage: node tokenize.mjs GRAMMAR.json FILE...");
  process.exit(2);
}
const grammar = await loadGrammar(grammarPath);
const out = {};
for (const file of files) {
  out[file] = tokenizeText(grammar, fs.readFileSync(file, "utf8"));
}
process.stdout.write(JSON.stringify(out));
