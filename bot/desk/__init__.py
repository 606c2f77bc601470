"""The web desk at `/desk`: sign-in through chat, the library queue, statistics and more."""
