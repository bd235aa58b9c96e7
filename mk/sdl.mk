# The SDL front end's test tools (tests/sdl): a stand-in machine that runs the
# real front end and VGA, and a WM_DELETE_WINDOW sender for Xvfb (no window manager).
SDL_TOOLS := $(O)/tests/sdl/fe_driver $(O)/tests/sdl/xclose

$(O)/tests/sdl/fe_driver: tests/sdl/fe_driver.c $(LIB_OBJ)
	$(call say,LINK,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -o $@ $< $(LIB_OBJ) $(LDLIBS)

$(O)/tests/sdl/xclose: tests/sdl/xclose.c
	$(call say,LINK,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -o $@ $< -lX11

sdl-tools: $(SDL_TOOLS)
.PHONY: sdl-tools
CHECK_PREREQS += $(SDL_TOOLS)
