"""Train and predict from the command line.

    python model.py train --dataset=data/train.csv     # new model version in ./model/
    python model.py predict --dataset=data/test.csv    # ./data/results.csv, Kaggle format
    python model.py evaluate --dataset=data/train.csv  # accuracy of the current model

Everything is logged to ./data/log_file.log. The code lives in the package (spaceship_clf.cli,
written from nbs/06_cli.ipynb); the same command is installed as `spaceship-clf` with the wheel.
"""
import sys

from spaceship_clf.cli import main

if __name__ == "__main__":
    sys.exit(main())
