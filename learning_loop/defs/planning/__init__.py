"""Planning: the plan_next_batch op job, its tables and the 06:00 schedule (contract §6)."""
