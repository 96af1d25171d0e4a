"""``python -m watcher`` entry point."""

from watcher.cli import main

if __name__ == "__main__":
    main()
