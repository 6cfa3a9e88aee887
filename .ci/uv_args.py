"""Print the uv flags that give uv the package sources pip is configured with here.

uv does not read pip's configuration, and these machines keep part of their wheels in local
folders and indexes named only there (find-links, extra indexes, a constraints file).
"""
from __future__ import annotations

import re
import shlex
import subprocess

FLAGS = {"index-url": "--index-url", "extra-index-url": "--extra-index-url", "find-links": "--find-links",
         "constraint": "--constraint"}

listed = subprocess.run(["pip", "config", "list"], capture_output=True, text=True, check=True).stdout
pairs: list[tuple[str, str]] = []
for line in listed.splitlines():
    # pip prints "<scope>.<key>='<value>'"; a value may hold several space-separated entries
    match = re.match(r"^[^.]+\.([a-z-]+)='(.*)'$", line)
    if match and match[1] in FLAGS:
        pairs += [(FLAGS[match[1]], value) for value in match[2].split() if (FLAGS[match[1]], value) not in pairs]
print(shlex.join(arg for pair in pairs for arg in pair))
