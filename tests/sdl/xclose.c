/*
 * What a window manager would do, for Xvfb tests without one:
 *   xclose WINDOW-ID   ask the window to close (WM_PROTOCOLS / WM_DELETE_WINDOW,
 *                      as a close button does; xdotool can only destroy or kill)
 *   xclose --unfocus   move the keyboard focus to the root window
 */
#include <X11/Xlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: xclose WINDOW-ID | --unfocus\n");
        return 64;
    }
    Display *d = XOpenDisplay(NULL);
    if (!d) {
        fprintf(stderr, "xclose: cannot open the display\n");
        return 69;
    }
    if (!strcmp(argv[1], "--unfocus")) {
        XSetInputFocus(d, DefaultRootWindow(d), RevertToNone, CurrentTime);
        XSync(d, False);
        XCloseDisplay(d);
        return 0;
    }
    Window w = (Window)strtoul(argv[1], NULL, 0);
    XEvent ev;
    memset(&ev, 0, sizeof ev);
    ev.xclient.type = ClientMessage;
    ev.xclient.window = w;
    ev.xclient.message_type = XInternAtom(d, "WM_PROTOCOLS", False);
    ev.xclient.format = 32;
    ev.xclient.data.l[0] = (long)XInternAtom(d, "WM_DELETE_WINDOW", False);
    ev.xclient.data.l[1] = CurrentTime;
    XSendEvent(d, w, False, NoEventMask, &ev);
    XSync(d, False);
    XCloseDisplay(d);
    return 0;
}
