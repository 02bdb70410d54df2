"""The API's routes: runs, their live streams, and events, schedules and queues."""
