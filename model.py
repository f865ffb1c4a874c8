"""Train and predict from the command line: `python model.py --help` lists the commands.

    python model.py train --dataset=data/train.csv     # a new model version in ./model/, current at once
    python model.py predict --dataset=data/test.csv    # ./data/results.csv, Kaggle format
    python model.py evaluate --dataset=data/train.csv  # accuracy of the current model

Every step is logged to ./data/log_file.log. The code lives in the package (the class `My_Classifier_Model`,
written from nbs/04_classifier.ipynb, and the commands, from nbs/06_cli.ipynb); the same commands are installed as
`spaceship-clf` with the wheel.
"""
import sys

from spaceship_clf.classifier import My_Classifier_Model
from spaceship_clf.cli import main

__all__ = ["My_Classifier_Model", "main"]

if __name__ == "__main__":
    sys.exit(main())
