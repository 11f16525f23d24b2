"""Use cases: one function per thing a user does, taking ports as keyword arguments."""
