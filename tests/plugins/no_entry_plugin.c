/* no_entry_plugin.c — a shared library without lowbit_backend_entry: the loader must say it is not a plugin. */
__attribute__((visibility("default"))) int lowbit_not_an_entry(void);
__attribute__((visibility("default"))) int lowbit_not_an_entry(void) { return 42; }
