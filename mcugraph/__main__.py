import sys

from mcugraph.cli.main import main

sys.exit(main())
