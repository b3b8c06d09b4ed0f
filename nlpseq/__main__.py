import sys

from nlpseq.cli import main

sys.exit(main())
