"""What only trains: the trainers, their data readers, augmentation and optimisers.

The web app never imports this package; `python -m model.training.train`
trains the network (on MNIST, and with --handwriting on canvas handwriting and
what is not a digit), and `python -m model.training.measure` measures it on the
measuring writers.
"""
