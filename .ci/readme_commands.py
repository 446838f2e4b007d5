"""Print one of the two Quick start commands of README.md: ``demo`` or ``test``.

CI runs exactly what README.md tells a new user to run; a test checks the same block.
"""

import re
import sys
from pathlib import Path


def quick_start_commands(readme: str) -> list[str]:
    section = readme.split("## Quick start", 1)[1]
    block = re.search(r"```(?:bash|sh)?\n(.*?)```", section, re.S).group(1)
    return [line.strip() for line in block.splitlines() if line.strip() and not line.strip().startswith("#")]


if __name__ == "__main__":
    commands = quick_start_commands((Path(__file__).parent.parent / "README.md").read_text())
    print(commands[{"demo": 0, "test": 1}[sys.argv[1]]])
