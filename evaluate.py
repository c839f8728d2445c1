"""Evaluate: python evaluate.py ckpt=<path | glob | {variant: path}> data=[<test set>,...]."""

from iqa.cli.evaluate import main

if __name__ == "__main__":
    main()
