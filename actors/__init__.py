"""actors: a supervised, actor-model crypto trading process on trio."""
