"""The paper's networks, one checkpoint prefix each, and the one door through which weights enter
(`checkpoint`)."""
