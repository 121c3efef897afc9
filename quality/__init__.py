"""Quality: what the ratings say about each item and about the raters.

Agreement (Krippendorff's alpha per criterion, per annotator, judge against humans; the maths is
in the pure ``agreement`` package), approval (which items are approved, sent to review or wait),
judge trust (when a machine rater may label alone) and task acceptance (accepted / rejected
buckets, the failure-mode report). It reads annotation's items and ratings and is read by
exports; annotation never imports it (see annotation/signals.py for how it hears of new ratings).
"""
