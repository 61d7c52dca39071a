import sys

from labsnn.cli import main

sys.exit(main())
