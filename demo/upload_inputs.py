"""Upload inputs whose files reach our own checks undecoded, and whose refusals are one plain line (issue 27,
item 2).

``gr.Image`` opens every upload with Pillow in its preprocessing, before the event's function runs: a bomb, an
empty file, text named .png or a bad checksum then failed inside Gradio, and the client got Gradio's message
with the server's path of the upload and Pillow's exception text. This component hands the uploaded file's
path on as it is; the event's function reads it with :func:`diffclip.images.to_rgb`, whose refusals (size
from the header, not an image, corrupt) are the same sentences as every other endpoint's."""

from __future__ import annotations

import logging
from pathlib import Path

import gradio as gr

log = logging.getLogger(__name__)


class FramePath(gr.Image):
    """``gr.Image`` (made with ``type="filepath"``) in the browser (preview, upload, examples) that passes the
    upload's path without opening it: its pixels are decoded once, by the reader that checks them."""

    is_template = True  # the browser draws it with gr.Image's own front end
    # (no __init__ of its own: Gradio sends the browser the props named in __init__'s signature)

    def preprocess(self, payload):
        """The uploaded file's path, unopened; a data: URL (a pasted or drawn image) as gr.Image saves it."""
        if self.type != "filepath" or payload is None or payload.path is None or \
                (payload.url or "").startswith("data:"):
            return super().preprocess(payload)
        return str(Path(payload.path))


class UploadedFiles(gr.File):
    """``gr.File`` whose file-type refusal names the file and goes to the log as one line."""

    is_template = True  # drawn by gr.File's front end

    def preprocess(self, payload):
        """The uploads' paths (as gr.File gives them), or a plain refusal naming the first unaccepted file."""
        try:
            return super().preprocess(payload)
        except gr.Error:
            files = payload.root if hasattr(payload, "root") else [payload]  # ListFiles or one FileData
            names = [f.orig_name or Path(f.path).name for f in files if f is not None]
            refused = next((n for n in names if not _accepted(n, self.file_types or [])), "this file")
            message = f"{refused}: not a file type this input takes ({', '.join(self.file_types or [])})"
            log.info("request refused: %s", message)
            raise gr.Error(message, print_exception=False) from None


def _accepted(name: str, types: list[str]) -> bool:
    from gradio_client.utils import is_valid_file

    return is_valid_file(name, types)
