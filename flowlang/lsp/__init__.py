"""The language server of `flowc lsp`.

`server` speaks the protocol (pygls, imported only there, so other commands
start without it), `editing` decides what to show at a point of a file
(hover, completion, definition) from the checker's `analyze`, and
`positions` turns character offsets into LSP positions and back.
"""
