"""Constants shared by the simulator tests (imported by name: tests/simulator has no __init__.py)."""

WATER_CODES = ("w01001", "w01009", "w01010", "w01014", "w01019", "w21003", "w21011", "w21001")
AIR_CODES = ("a21026", "a21004", "a21005", "a05024", "a34002", "a34004")
WW_CODES = ("w00000", "w01018", "w21003", "w01001")
