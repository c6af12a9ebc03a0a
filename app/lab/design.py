"""The experiment lab's toy data set, in words and constants (torch-free: the page shows them).

What makes the label. There are five classes. Every word is a fixed 50-number vector fed
straight into the RNN (no embedding layer, nothing trains the vectors). There are 50 neutral
filler words and, for each class, 2 keywords whose vectors are about twice as long as a
filler's. A sentence is 12 words: all filler, drawn at random, except that one of the first
3 positions holds one of the label's keywords. That keyword is the only evidence.

Why reading both directions helps. The evidence sits at the start. A one-direction RNN read
at the last time step must carry the keyword through about 10 more steps of filler, and a
plain RNN forgets quickly; in 20 epochs it mostly memorises the training sentences instead.
A bidirectional RNN's backward direction reads the sentence from the end, so its final state
(h_n[-1]) has just seen the keyword. The readout must include that final state: out[:, -1] has
the backward direction after a single word, which is no better than one direction.

What noise there is. Every word vector gets its own Gaussian noise (about 0.5 long, drawn once
with the data), so no two sentences are the same. And 10% of the labels, in train and val
alike, are replaced by another class at random. Those labels cannot be learned, only
memorised: a model that reads the keyword and does not memorise tops out near 90%, on train
as on val. A train accuracy well above that means memorising.
"""

from __future__ import annotations

from app.lab.config import INPUT_SIZE, NUM_CLASSES

SEQ_LEN = 13  # words per sentence
TRAIN_SIZE = 400
VAL_SIZE = 400
FILLER_WORDS = 100  # neutral words, drawn uniformly with replacement
KEYWORDS_PER_CLASS = 2
WORD_LENGTH = 2.0  # a filler word's vector is about this long
WORD_STD = WORD_LENGTH * INPUT_SIZE**-0.5  # per entry of a word vector
KEYWORD_SCALE = 2.5  # a keyword's vector is this many times longer than a filler's
KEYWORD_POSITIONS = (0, 1, 2)  # the keyword sits in one of these, uniformly
TOKEN_NOISE = 0.5 * INPUT_SIZE**-0.5  # per-entry std of each word's own noise (about 0.5 long)
LABEL_NOISE = 0.10  # this share of each split's labels is replaced by another class

# The story's targets for the baseline (the task's own targets for a solution are config.TASK):
# it memorises the training sentences, yet does poorly on unseen ones.
OVERFIT_MIN_TRAIN_ACCURACY = 0.93
OVERFIT_MAX_VAL_ACCURACY = 0.80
VOCABULARY = FILLER_WORDS + NUM_CLASSES * KEYWORDS_PER_CLASS  # word ids: fillers, then keywords

# The data draw the lab uses. Init seeds 0, 1 and 2 move the vanilla RNN's results by several
# points on a fixed draw, and the draw moves them too, so the draw is fixed: this one was
# picked by `python bench/lab_story.py --sweep-data-seeds N` as the one where the story's four
# targets hold for every reference init seed with the widest margin (see that sweep's output).
DATA_SEED = 0


def keyword_id(label: int, k: int) -> int:
    """The word id of class `label`'s k-th keyword."""
    return FILLER_WORDS + label * KEYWORDS_PER_CLASS + k
