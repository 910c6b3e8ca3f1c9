"""A plugin that only uses ``storage/*``, run as a real process by the storage tests.

``prepare`` puts ``count`` keys named ``<prefix><i>``; ``more_info`` answers
with the JSON of what ``storage/get`` returns for the key named by the
``peek`` option. Options arrive from the test through the plugin host.
"""

from __future__ import annotations

import json

from certkernel.sdk import Authenticator, Challenge, serve


class StoragePlugin(Authenticator):
    """Writes and reads its storage as the test asks; answers no challenge."""

    name = "storage-probe"
    version = "1.0.0"

    def prepare(self) -> None:
        prefix = str(self.options.get("prefix", "k"))
        for i in range(int(self.options.get("count", 0))):
            self.kernel.storage_put(f"{prefix}{i}", i)
        for key, value in dict(self.options.get("put", {})).items():
            self.kernel.storage_put(str(key), value)

    def more_info(self) -> str:
        return json.dumps(self.kernel.storage_get(str(self.options.get("peek", ""))))

    def get_chall_pref(self, domain: str) -> list[str]:
        return ["http-01"]

    def perform(self, challenges: list[Challenge]) -> None:
        return None

    def cleanup(self, challenges: list[Challenge]) -> None:
        return None


if __name__ == "__main__":
    serve(StoragePlugin)
