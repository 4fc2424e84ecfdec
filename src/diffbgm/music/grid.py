"""The musical grid every stage shares: POP909-style 4/4, sixteenth-note steps, 8-bar windows.

Diff-BGM (and Polyffusion, whose piano-roll format it reuses) works on 8-bar windows of a 2x128x128
tensor: onset and sustain channels x 128 sixteenth steps x 128 MIDI pitches.
"""

STEPS_PER_BEAT = 4
BEATS_PER_BAR = 4
STEPS_PER_BAR = STEPS_PER_BEAT * BEATS_PER_BAR
WINDOW_BARS = 8
WINDOW_BEATS = WINDOW_BARS * BEATS_PER_BAR  # one condition token per beat: 32
WINDOW_STEPS = WINDOW_BEATS * STEPS_PER_BEAT  # 128
# Bars each window shares with the one before it when a long piece is written window by window.
WINDOW_OVERLAP_BARS = 2
N_PITCHES = 128
ONSET, SUSTAIN = 0, 1  # channel indices of a piano-roll array
