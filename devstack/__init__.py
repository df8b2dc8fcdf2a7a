"""Seatline's processes on this machine, for the test suites and the benchmarks: the command line of
each process (`commands`), free ports, waiting until a server answers and stopping process groups
(`processes`), one server for the length of a ``with`` block (`serve`), a whole set of named
processes with their logs (`stack`), the gateway simulator and its control API (`gateway`), and an
SMTP sink in this process (`mail`).

It needs the standard library, requests and aiosmtpd, and imports neither the tests nor the
benchmarks: both import it."""
