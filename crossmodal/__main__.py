"""``python -m crossmodal`` runs the command line (also under ``torchrun -m crossmodal``)."""

from crossmodal.cli import main

if __name__ == "__main__":
    main()
