"""The experiment lab's toy data set, in words and constants (torch-free: the page shows them).

What makes the label. There are five classes. Every word is a fixed 50-number vector fed
straight into the RNN (no embedding layer, nothing trains the vectors). There are 100 neutral
filler words and, for each class, 2 keywords whose vectors are 2.5 times as long as a filler's.
A sentence is 13 words: all filler, drawn at random, except that one of the first 3 positions
holds one of the label's keywords. That keyword is the only evidence; the fillers say nothing.

Why reading both directions helps. The evidence sits at the start. A one-direction RNN read at
the last time step must carry the keyword through 10 to 12 more steps of filler, and a plain
RNN forgets quickly: in 20 epochs it mostly memorises its training sentences by their last
words instead, which says nothing about new sentences. A bidirectional RNN's backward direction
reads the sentence from the end, so its final state (h_n[-1]) has just seen the keyword. The
readout must include that final state: out[:, -1] holds the backward direction after a single
word, which is no better than one direction.

What noise there is. Every word vector gets its own Gaussian noise (about 0.5 long, drawn once
with the data), so no two sentences look the same. And 10% of the labels of each split, train
and val alike, are replaced by another class at random. Those labels cannot be learned, only
memorised: a model that reads the keyword and does not memorise tops out at 90%, on train as
on val. A train accuracy well above 90% means memorising. The classes are balanced and the
flipped share is exact in each split, so that ceiling is the same in every split and draw.
"""

from __future__ import annotations

from app.training.config import INPUT_SIZE, NUM_CLASSES

SEQ_LEN = 13  # words per sentence
TRAIN_SIZE = 400
VAL_SIZE = 400
FILLER_WORDS = 100  # neutral words, drawn uniformly with replacement
KEYWORDS_PER_CLASS = 2
# Long word vectors drive the plain RNN's state hard, so it holds recent words, not the start.
WORD_LENGTH = 2.0  # a filler word's vector is about this long
WORD_STD = WORD_LENGTH * INPUT_SIZE**-0.5  # per entry of a word vector
KEYWORD_SCALE = 2.5  # a keyword's vector is this many times as long as a filler's
KEYWORD_POSITIONS = (0, 1, 2)  # the keyword sits in one of these, uniformly
TOKEN_NOISE = 0.5 * INPUT_SIZE**-0.5  # per-entry std of each word's own noise (about 0.5 long)
LABEL_NOISE = 0.10  # this share of each split's labels is replaced by another class
VOCABULARY = FILLER_WORDS + NUM_CLASSES * KEYWORDS_PER_CLASS  # word ids: fillers, then keywords

# The story's targets for the baseline (the task's own targets for a solution are the app's:
# app.lab.config.TASK): it memorises the training sentences, yet does poorly on unseen ones.
OVERFIT_MIN_TRAIN_ACCURACY = 0.93
OVERFIT_MAX_VAL_ACCURACY = 0.80

# The data draw the lab shows. The draw moves the figures by a point or two, and the solution's
# train accuracy sits only about 1 to 2 points under its 92% limit by design (10% of the labels
# are noise), so the draw is fixed. `python bench/lab_story.py --sweep-data-seeds 24` trained
# the baseline and the solution for init seeds 0, 1 and 2 on data seeds 0 to 23: 22 of the 24
# met all four targets for every init seed. This seed had the widest worst-case margin (1.8
# points, on the solution's train accuracy; the other three targets had 4 points or more).
DATA_SEED = 1


def keyword_id(label: int, k: int) -> int:
    """The word id of class `label`'s k-th keyword."""
    return FILLER_WORDS + label * KEYWORDS_PER_CLASS + k
