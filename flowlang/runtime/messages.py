"""Records from broker messages (NATS, Kafka): one message is one record,
decoded as a line of a file would be, except csv, where a message is a
small CSV document of its own."""

from __future__ import annotations

from typing import Any, Callable

from .base import Record, SourceItem

Decoded = tuple[list[Record], list[SourceItem]]


def message_decoder(
    format: str, format_args: dict | None, schema: Any
) -> Callable[[bytes], Decoded]:
    """Decodes one message body into (records, failed items): one record per
    message, except csv, where a message is a small CSV document."""
    from .decode import Decoder

    decoder = Decoder(format, format_args, schema)
    decode = decoder.decode
    if format == "csv":

        def decode_csv(body: bytes) -> Decoded:
            decoder.new_file()
            return decode(body.splitlines())

        return decode_csv

    def decode_one(body: bytes) -> Decoded:
        if body[-1:] == b"\n":
            body = body[:-1]
        return decode([body])

    return decode_one
