"""The release mirror a hub serves its children: the city's TUF metadata and release archives, as verified
and kept by `node.releases.client` (at the city, its repository itself).

Open to anyone, without the sync's signed requests: TUF's signatures are the protection. Every file is
signed by the city's keys (or hashed in what they sign), with versions and expiries, so a reader can neither
be fed a changed, older or frozen release nor learn anything not published to the whole fleet; and a plain
folder of the same files, copied to a USB stick, must verify the same way. Range requests are answered (a
cut download resumes), and the files are served from disk, not read into memory.
"""

import re
from pathlib import Path

from flask import Blueprint, abort, current_app, send_from_directory

bp = Blueprint("releases", __name__)
NAME = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._-]{0,200}$")


@bp.get("/releases/<any(metadata, targets):kind>/<name>")
def mirrored(kind: str, name: str):
    if not NAME.match(name) or name.endswith((".tmp", ".verified")):
        abort(404)
    folder = Path(current_app.extensions["onetrip"].config.data_dir) / "releases" / kind
    # As stored: a .tar.gz guessed as gzip-encoded tar would be unpacked by the client before it is hashed.
    # Never cached by a proxy for long: timestamp.json changes under the same name.
    return send_from_directory(folder, name, mimetype="application/octet-stream", conditional=True, max_age=60)
