"""Subprocess fixture: the parent only waits; a Python child runs cpu_hot.py's hot work."""

import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def launch():
    subprocess.run([sys.executable, os.path.join(HERE, "cpu_hot.py"), "--child", "1.0"], check=True)


if __name__ == "__main__":
    launch()
