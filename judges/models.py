# LLM judges arrive with the judges issue: a judge version is an annotation.Rater of kind "judge",
# so its verdicts are ratings like any other.
