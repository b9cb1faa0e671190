"""Motion-latent edits: pure functions on `Motion` (intensity and directions, time, blends, silence,
emotion schedules, motion from video, motion files) and pasting frames back into the source picture."""
