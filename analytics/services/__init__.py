"""Score runs and their results, rescoring, and feedback analysis: the analytics' write services.

``runs`` requests and executes a full run (start, fit a part, plan, rank a chunk, finish) under
its lease; ``artifacts`` keeps what a run's tasks hand each other; ``results`` writes a finished
run's scores, recommendations, rules, forecast and dashboard figures; ``rescore`` rescores a few
customers with the last run's models; ``feedback`` analyses feedback as it arrives.
"""
