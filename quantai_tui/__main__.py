import sys

from quantai_tui.cli import main

sys.exit(main())
