"""Outside the graph: the command line, model downloads, video files and the face crop."""
