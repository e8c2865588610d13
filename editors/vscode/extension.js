// Starts `flowc lsp` for .flow files; highlighting comes from the grammar
// that package.json registers.
const vscode = require("vscode");
const { LanguageClient } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const [command, ...args] = vscode.workspace
    .getConfiguration("flowlang")
    .get("server.command", ["flowc", "lsp"]);
  client = new LanguageClient(
    "flowlang",
    "flowc lsp",
    { command, args },
    {
      documentSelector: [
        { scheme: "file", language: "flow" },
        { scheme: "untitled", language: "flow" },
      ],
    },
  );
  context.subscriptions.push(client);
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
