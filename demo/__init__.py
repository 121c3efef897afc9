"""Demo data for a newcomer's first ``make run``: a summaries project with annotators and a
reviewer, an agentic-task project with its agent traces, and an offline judge.

Built only through the same services a user's requests go through. Nothing else imports this app.
"""
