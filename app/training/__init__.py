"""The experiment lab's training code, the part that runs inside the runner's sandbox: a run's
config (config), the toy data set's design and draw (design, dataset), and the model and its
training loop (loop).

The runner's lab workers train with it, and a learner's own lab model is trained by it in a
sandboxed run (app.lab.custom's harness); the app's lab feature (app.lab) imports it too, for
the config, its parameter count and the data's design (config and design are torch-free). A
jailed run cannot read the app's files, so the runner loads these modules before it closes the
jail: they import nothing of the app but app.core.bounds, and nothing of the web stack.
"""
