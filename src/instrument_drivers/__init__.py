"""Drivers that talk to quick-test instruments over serial and Modbus and yield `Reading`s."""
