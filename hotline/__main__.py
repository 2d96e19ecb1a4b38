import sys

# `serve --production` runs on gevent: its monkey-patching must come before
# anything imports socket, threading or the database driver, so it happens
# here, ahead of the CLI's imports (see docs/deployment.md).
if sys.argv[1:2] == ["serve"] and "--production" in sys.argv[2:]:
    from gevent import monkey

    monkey.patch_all()

from hotline.cli import main  # noqa: E402

raise SystemExit(main())
