"""`python -m deepfake_detection` runs the command-line interface."""

from deepfake_detection.cli import main

raise SystemExit(main())
