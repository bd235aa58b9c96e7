/*
 * The SDL2 front end (see frontend.h). One window with a streaming texture
 * the size of the guest's mode; at each display refresh the rows the
 * machine marked dirty are uploaded and the picture is presented, scaled
 * with its aspect kept (nearest-neighbour at whole multiples, linear
 * otherwise) on the drawable's real pixels (HiDPI). Nothing is uploaded or
 * presented while the guest's screen does not change.
 *
 * Input: SDL scancodes are HID usages (ui.c); a click grabs keyboard and
 * mouse (relative mode), Ctrl+Alt releases, unless the guest uses the
 * absolute pointer. Focus loss releases every key in the guest. Closing the
 * window presses the power button; a second close (or force_close) powers off.
 */
#include "sdl/frontend.h"

#include <SDL.h>
#include <SDL_syswm.h>
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include "sdl/ui.h"

struct frontend {
    struct frontend_opts o;
    struct display *display;
    struct input_queue *input;
    SDL_Window *win;
    SDL_Renderer *ren;
    SDL_Texture *tex;
    int tex_w, tex_h;
    int asked_w, asked_h; /* the window size we asked for last */
    uint64_t seen_gen;
    bool grabbed, fullscreen, user_resized, close_requested, need_present;
    bool closed_in_batch;
    struct ui_rect saved; /* the window before a full screen without window manager */ /* SDL follows the last window's close with SDL_QUIT: one request */
    unsigned buttons;
    struct ui_keys keys;
    char title[512];
};

static void update_title(struct frontend *fe)
{
    char t[512];
    ui_title(t, sizeof t, fe->o.title, display_get_state(fe->display), fe->grabbed, fe->o.kiosk);
    if (strcmp(t, fe->title) != 0) {
        memcpy(fe->title, t, sizeof t);
        SDL_SetWindowTitle(fe->win, t);
    }
}

static void set_grab(struct frontend *fe, bool on)
{
    if (fe->grabbed == on)
        return;
    fe->grabbed = on;
    bool relative = on && !input_pointer_absolute(fe->input);
    SDL_SetWindowKeyboardGrab(fe->win, on ? SDL_TRUE : SDL_FALSE);
    SDL_SetWindowMouseGrab(fe->win, relative ? SDL_TRUE : SDL_FALSE);
    SDL_SetRelativeMouseMode(relative ? SDL_TRUE : SDL_FALSE);
    update_title(fe);
}

#if defined(SDL_VIDEO_DRIVER_X11)
/*
 * True on an X server without an EWMH window manager (a bare kiosk session,
 * Xvfb): nobody there acts on SDL's full-screen request. libX11 is already
 * loaded by SDL; it is looked up rather than linked.
 */
static bool x11_without_wm(SDL_Window *win)
{
    SDL_SysWMinfo info;
    SDL_VERSION(&info.version);
    if (!SDL_GetWindowWMInfo(win, &info) || info.subsystem != SDL_SYSWM_X11)
        return false;
    void *lib = dlopen("libX11.so.6", RTLD_LAZY | RTLD_NOLOAD);
    if (!lib)
        return false;
    Atom (*intern)(Display *, const char *, Bool) = (Atom(*)(Display *, const char *, Bool))dlsym(lib, "XInternAtom");
    int (*getprop)(Display *, Window, Atom, long, long, Bool, Atom, Atom *, int *, unsigned long *,
                   unsigned long *, unsigned char **) =
        (int (*)(Display *, Window, Atom, long, long, Bool, Atom, Atom *, int *, unsigned long *,
                 unsigned long *, unsigned char **))dlsym(lib, "XGetWindowProperty");
    int (*xfree)(void *) = (int (*)(void *))dlsym(lib, "XFree");
    bool none = false;
    if (intern && getprop && xfree) {
        Display *d = info.info.x11.display;
        Atom type;
        int format;
        unsigned long n = 0, after;
        unsigned char *data = NULL;
        Atom check = intern(d, "_NET_SUPPORTING_WM_CHECK", False);
        if (getprop(d, DefaultRootWindow(d), check, 0, 1, False, XA_WINDOW, &type, &format, &n,
                    &after, &data) == Success)
            none = n == 0;
        else
            none = true;
        if (data)
            xfree(data);
    }
    dlclose(lib);
    return none;
}
#else
static bool x11_without_wm(SDL_Window *win)
{
    (void)win;
    return false;
}
#endif

/* Full screen by the window manager, or a borderless window over the display without one. */
static void set_fullscreen(struct frontend *fe, bool on)
{
    fe->fullscreen = on;
    fe->need_present = true;
    if (!x11_without_wm(fe->win)) {
        SDL_SetWindowFullscreen(fe->win, on ? SDL_WINDOW_FULLSCREEN_DESKTOP : 0);
        return;
    }
    SDL_Rect b;
    if (on && SDL_GetDisplayBounds(SDL_GetWindowDisplayIndex(fe->win), &b) == 0) {
        SDL_GetWindowPosition(fe->win, &fe->saved.x, &fe->saved.y);
        SDL_GetWindowSize(fe->win, &fe->saved.w, &fe->saved.h);
        SDL_SetWindowBordered(fe->win, SDL_FALSE);
        SDL_SetWindowPosition(fe->win, b.x, b.y);
        SDL_SetWindowSize(fe->win, b.w, b.h);
    } else if (!on && fe->saved.w) {
        SDL_SetWindowBordered(fe->win, SDL_TRUE);
        SDL_SetWindowPosition(fe->win, fe->saved.x, fe->saved.y);
        SDL_SetWindowSize(fe->win, fe->saved.w, fe->saved.h);
    }
}

struct frontend *sdl_frontend_new(const struct frontend_opts *opts, struct display *display,
                                  struct input_queue *input, struct error *err)
{
    SDL_SetHint(SDL_HINT_NO_SIGNAL_HANDLERS, "1");
    SDL_SetHint(SDL_HINT_VIDEO_MINIMIZE_ON_FOCUS_LOSS, "0");
    if (opts->kiosk)
        SDL_SetHint(SDL_HINT_ALLOW_ALT_TAB_WHILE_GRABBED, "0");
    /* Without a display SDL would fall back to drivers nobody can see (the VM running
     * where no one can watch or stop it), probing Wayland noisily on the way. Unless
     * the user chose with SDL_VIDEODRIVER: only the displays there are, and KMS. */
    const char *chosen = getenv("SDL_VIDEODRIVER");
    bool x11 = getenv("DISPLAY") && *getenv("DISPLAY");
    bool wl = getenv("WAYLAND_DISPLAY") && *getenv("WAYLAND_DISPLAY");
    bool user = chosen && *chosen;
    if (!user)
        SDL_SetHint("SDL_VIDEODRIVER", x11 && wl ? "x11,wayland,kmsdrm" : x11 ? "x11,kmsdrm"
                                       : wl     ? "wayland,kmsdrm" : "kmsdrm");
    const char *drv = SDL_Init(SDL_INIT_VIDEO) == 0 ? SDL_GetCurrentVideoDriver() : NULL;
    if (!drv || (!user && (!strcmp(drv, "offscreen") || !strcmp(drv, "dummy")))) {
        if (!user && !x11 && !wl)
            error_set(err, EX_UNAVAILABLE, "no display to open a window on (DISPLAY and "
                      "WAYLAND_DISPLAY are unset): use --headless, or choose a video driver "
                      "with SDL_VIDEODRIVER");
        else
            error_set(err, EX_UNAVAILABLE, "cannot open a window: %s (try --headless)",
                      drv ? drv : SDL_GetError());
        SDL_Quit();
        return NULL;
    }
    struct frontend *fe = calloc(1, sizeof *fe);
    if (!fe) {
        SDL_Quit();
        error_set(err, EX_OSERR, "out of memory");
        return NULL;
    }
    fe->o = *opts;
    fe->display = display;
    fe->input = input;
    ui_keys_init(&fe->keys, opts->kiosk);
    ui_window_size(720, 400, &fe->asked_w, &fe->asked_h);
    fe->win = SDL_CreateWindow("vmplay", SDL_WINDOWPOS_CENTERED, SDL_WINDOWPOS_CENTERED,
                               fe->asked_w, fe->asked_h, SDL_WINDOW_RESIZABLE | SDL_WINDOW_ALLOW_HIGHDPI);
    fe->ren = fe->win ? SDL_CreateRenderer(fe->win, -1, 0) : NULL;
    if (!fe->ren) {
        error_set(err, EX_UNAVAILABLE, "cannot open a window: %s", SDL_GetError());
        sdl_frontend_free(fe);
        return NULL;
    }
    update_title(fe);
    if (opts->fullscreen || opts->kiosk)
        set_fullscreen(fe, true);
    if (opts->kiosk)
        set_grab(fe, true);
    return fe;
}

void sdl_frontend_free(struct frontend *fe)
{
    if (!fe)
        return;
    if (fe->tex)
        SDL_DestroyTexture(fe->tex);
    if (fe->ren)
        SDL_DestroyRenderer(fe->ren);
    if (fe->win)
        SDL_DestroyWindow(fe->win);
    free(fe);
    SDL_Quit();
}

/* ---- frames ---- */

static bool texture_for(struct frontend *fe, unsigned w, unsigned h)
{
    if (fe->tex && fe->tex_w == (int)w && fe->tex_h == (int)h)
        return true;
    if (fe->tex)
        SDL_DestroyTexture(fe->tex);
    fe->tex = SDL_CreateTexture(fe->ren, SDL_PIXELFORMAT_RGB888, SDL_TEXTUREACCESS_STREAMING,
                                (int)w, (int)h);
    fe->tex_w = fe->tex ? (int)w : 0;
    fe->tex_h = fe->tex ? (int)h : 0;
    if (fe->tex && !fe->fullscreen && !fe->user_resized) {
        ui_window_size((int)w, (int)h, &fe->asked_w, &fe->asked_h);
        SDL_SetWindowSize(fe->win, fe->asked_w, fe->asked_h);
    }
    return fe->tex != NULL;
}

/* Uploads runs of dirty rows (all rows after a resize). */
static void upload(struct frontend *fe)
{
    struct display_frame f;
    display_acquire(fe->display, &f);
    fe->seen_gen = f.generation;
    bool fresh = !fe->tex || fe->tex_w != (int)f.width || fe->tex_h != (int)f.height;
    if (f.width && texture_for(fe, f.width, f.height)) {
        for (unsigned y = 0; y < f.height;) {
            if (!fresh && !f.dirty[y]) {
                y++;
                continue;
            }
            unsigned y1 = y + 1;
            while (y1 < f.height && (fresh || f.dirty[y1]))
                y1++;
            SDL_Rect r = {0, (int)y, (int)f.width, (int)(y1 - y)};
            SDL_UpdateTexture(fe->tex, &r, (const uint8_t *)f.pixels + y * f.stride, (int)f.stride);
            y = y1;
        }
        fe->need_present = true;
    }
    display_release(fe->display);
}

static void present(struct frontend *fe)
{
    int ow, oh;
    SDL_GetRendererOutputSize(fe->ren, &ow, &oh);
    SDL_SetRenderDrawColor(fe->ren, 0, 0, 0, 255);
    SDL_RenderClear(fe->ren);
    if (fe->tex) {
        struct ui_rect r = ui_scale_fit(fe->tex_w, fe->tex_h, ow, oh, fe->o.integer_scale);
        bool whole = r.w % fe->tex_w == 0 && r.h % fe->tex_h == 0;
        SDL_SetTextureScaleMode(fe->tex, whole ? SDL_ScaleModeNearest : SDL_ScaleModeLinear);
        SDL_Rect d = {r.x, r.y, r.w, r.h};
        SDL_RenderCopy(fe->ren, fe->tex, NULL, &d);
    }
    SDL_RenderPresent(fe->ren);
    fe->need_present = false;
}

static void frame(struct frontend *fe)
{
    if (fe->o.screenshot_request && *fe->o.screenshot_request) {
        *fe->o.screenshot_request = 0;
        if (fe->o.screenshot_path)
            display_write_png(fe->display, fe->o.screenshot_path, NULL);
    }
    if (fe->grabbed && !fe->o.kiosk && input_pointer_absolute(fe->input))
        set_grab(fe, false); /* the guest follows the host pointer now */
    update_title(fe);
    if (display_generation(fe->display) != fe->seen_gen)
        upload(fe);
    if (fe->need_present)
        present(fe);
}

/* ---- events ---- */

static void close_request(struct frontend *fe)
{
    if (fe->o.kiosk)
        return;
    if (fe->o.force_close || fe->close_requested)
        input_power_off(fe->input);
    else
        input_power_button(fe->input);
    fe->close_requested = true;
}

static void key_event(struct frontend *fe, const SDL_KeyboardEvent *k)
{
    uint32_t usage = ui_scancode_to_usage(k->keysym.scancode);
    if (!usage)
        return;
    struct ui_key_out out[2];
    unsigned n;
    unsigned act = ui_key_event(&fe->keys, usage, k->type == SDL_KEYDOWN, fe->grabbed, out, &n);
    for (unsigned i = 0; i < n; i++)
        input_key(fe->input, out[i].usage, out[i].down);
    if (act & UI_ACT_RELEASE_GRAB)
        set_grab(fe, false);
    if (act & UI_ACT_FULLSCREEN)
        set_fullscreen(fe, !fe->fullscreen);
}

static unsigned sdl_buttons(uint32_t state)
{
    return (state & SDL_BUTTON_LMASK ? INPUT_BUTTON_LEFT : 0)
           | (state & SDL_BUTTON_RMASK ? INPUT_BUTTON_RIGHT : 0)
           | (state & SDL_BUTTON_MMASK ? INPUT_BUTTON_MIDDLE : 0)
           | (state & SDL_BUTTON_X1MASK ? INPUT_BUTTON_SIDE : 0)
           | (state & SDL_BUTTON_X2MASK ? INPUT_BUTTON_EXTRA : 0);
}

/* Window point -> absolute pointer position over the picture. */
static void post_abs(struct frontend *fe, int wx, int wy, int dz)
{
    int ww, wh, ow, oh;
    SDL_GetWindowSize(fe->win, &ww, &wh);
    SDL_GetRendererOutputSize(fe->ren, &ow, &oh);
    int px = ww ? (int)((int64_t)wx * ow / ww) : wx, py = wh ? (int)((int64_t)wy * oh / wh) : wy;
    struct ui_rect dst = ui_scale_fit(fe->tex_w, fe->tex_h, ow, oh, fe->o.integer_scale);
    unsigned ax, ay;
    ui_point_to_abs(&dst, px, py, &ax, &ay);
    input_mouse_abs(fe->input, ax, ay, dz, fe->buttons);
}

static void mouse_event(struct frontend *fe, const SDL_Event *e)
{
    bool absolute = input_pointer_absolute(fe->input);
    int mx, my;
    fe->buttons = sdl_buttons(SDL_GetMouseState(&mx, &my));
    if (!absolute && !fe->grabbed) {
        if (e->type == SDL_MOUSEBUTTONDOWN)
            set_grab(fe, true); /* the grabbing click is not the guest's */
        return;
    }
    int dz = 0;
    if (e->type == SDL_MOUSEWHEEL)
        dz = e->wheel.direction == SDL_MOUSEWHEEL_FLIPPED ? e->wheel.y : -e->wheel.y;
    if (absolute)
        post_abs(fe, mx, my, dz);
    else if (e->type == SDL_MOUSEMOTION)
        input_mouse_rel(fe->input, e->motion.xrel, e->motion.yrel, 0, fe->buttons);
    else
        input_mouse_rel(fe->input, 0, 0, dz, fe->buttons);
}

static void window_event(struct frontend *fe, const SDL_WindowEvent *w)
{
    switch (w->event) {
    case SDL_WINDOWEVENT_CLOSE:
        close_request(fe);
        fe->closed_in_batch = true;
        break;
    case SDL_WINDOWEVENT_RESIZED:
        if (!fe->fullscreen && (w->data1 != fe->asked_w || w->data2 != fe->asked_h))
            fe->user_resized = true;
        /* A size the user (or full screen) chose, not the guest's mode: a guest whose tools
         * can set its resolution follows it, as VMware's "fit guest to window". */
        if ((fe->user_resized || fe->fullscreen) && w->data1 > 0 && w->data2 > 0)
            input_display_size(fe->input, (unsigned)w->data1, (unsigned)w->data2);
        fe->need_present = true;
        break;
    case SDL_WINDOWEVENT_FOCUS_LOST:
        input_release_all(fe->input);
        ui_keys_reset(&fe->keys);
        if (!fe->o.kiosk)
            set_grab(fe, false);
        break;
    default:
        fe->need_present = true; /* exposed, size changed, shown... */
        break;
    }
}

static void handle(struct frontend *fe, const SDL_Event *e)
{
    switch (e->type) {
    case SDL_QUIT:
        if (!fe->closed_in_batch)
            close_request(fe);
        break;
    case SDL_WINDOWEVENT:
        window_event(fe, &e->window);
        break;
    case SDL_KEYDOWN:
    case SDL_KEYUP:
        key_event(fe, &e->key);
        break;
    case SDL_MOUSEMOTION:
    case SDL_MOUSEBUTTONDOWN:
    case SDL_MOUSEBUTTONUP:
    case SDL_MOUSEWHEEL:
        mouse_event(fe, e);
        break;
    default:
        break;
    }
}

int sdl_frontend_run(struct frontend *fe, struct error *err)
{
    uint64_t next = SDL_GetTicks64();
    while (display_get_state(fe->display) != DISPLAY_EXITED) {
        uint64_t now = SDL_GetTicks64();
        SDL_Event e;
        if (SDL_WaitEventTimeout(&e, next > now ? (int)(next - now) : 0)) {
            fe->closed_in_batch = false;
            handle(fe, &e);
            while (SDL_PollEvent(&e))
                handle(fe, &e);
        }
        now = SDL_GetTicks64();
        if (now >= next) {
            frame(fe);
            unsigned hz = display_refresh_hz(fe->display);
            next += 1000 / (hz ? hz : 60);
            if (next <= now)
                next = now + 1;
        }
    }
    set_grab(fe, false);
    return 0;
}
