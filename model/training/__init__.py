"""What only trains: the trainers, their data readers, augmentation and optimisers.

The web app never imports this package; `python -m model.training.train`
trains the digit network and `python -m model.training.train_rejection` its
not-a-digit head.
"""
