import sys

from actionline.cli import main

sys.exit(main())
