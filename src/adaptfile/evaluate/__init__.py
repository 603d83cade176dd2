"""Evaluation: metric functions and the leaderboard of built variants."""
