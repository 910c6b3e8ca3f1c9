"""``python -m certkernel`` runs the command-line tool."""

from certkernel.main import entry

if __name__ == "__main__":
    entry()
