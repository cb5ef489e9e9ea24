"""The embedded broker: kombu's filesystem transport, with each message written atomically.

kombu's filesystem transport stores every message as a file in a folder that the worker lists
and moves files out of. Its ``_put`` creates the file and then writes to it, so a worker listing
the folder in between takes an empty file and dies on the JSON decode (kombu issue #1551). Here
the message is written under a name the worker skips (it reads only ``*.<queue>.msg``) and then
renamed into place, which is atomic on one file system.
"""
from __future__ import annotations

import os
import uuid
from time import monotonic

from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        # The name kombu gives a message: milliseconds first, so the folder sorts in FIFO order.
        name = f"{int(round(monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = final + ".part"
        try:
            with open(partial, "wb") as handle:
                handle.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise filesystem.ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel


def folders(root) -> dict[str, str]:
    """Broker transport options for a broker folder ``root``: one folder every process writes
    messages to and the worker reads them from, and the exchange tables beside it (created here:
    the transport does not create its folders)."""
    queue, control = os.path.join(root, "queue"), os.path.join(root, "control")
    for folder in (queue, control):
        os.makedirs(folder, exist_ok=True)
    return {"data_folder_in": queue, "data_folder_out": queue, "control_folder": control}
