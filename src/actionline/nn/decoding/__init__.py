"""From network outputs to segments: NMS, peaks, Viterbi, matching, re-assembly."""
